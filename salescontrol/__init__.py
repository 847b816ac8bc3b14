"""SalesControl: microphones at shops' cash registers, a core server that finds
seller–customer dialogues, transcribes them and judges whether the seller offered
an upsell, and a dashboard for the owners. Uses `core` only."""

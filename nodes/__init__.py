"""Graph nodes, one module each: intent, retrieve, objection, generate, guard, handoff."""

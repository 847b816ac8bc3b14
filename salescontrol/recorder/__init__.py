"""The recorder agent on the Raspberry Pi at a cash register."""

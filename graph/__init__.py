"""The sales turn as a LangGraph state machine: state, builder, routing, Studio entry."""

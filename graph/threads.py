"""Thread identity: one LangGraph thread per (session_id, user_id).

The id is a UUID because the LangGraph API server (Studio) accepts only UUID
thread ids. It is derived, never taken from the caller, so a client cannot reach
another customer's thread by sending an id.
"""

from __future__ import annotations

import uuid

from langchain_core.runnables import RunnableConfig

# Fixed forever: changing it would orphan every stored conversation.
THREAD_NAMESPACE = uuid.UUID("6f1c2b0e-4a53-5d4e-9a71-3c8b2f5e7d10")


def thread_key(session_id: str, user_id: str) -> str:
    """`session_id:user_id`, with ':' (and '%') in the session id percent-encoded.

    Ids may contain ':', so a plain join would give ("A:B", "C") and ("A", "B:C")
    one thread. Encoding the session id makes the first ':' the separator; ids
    without ':' or '%' (every id seen so far) keep the key they always had.
    """
    session = session_id.replace("%", "%25").replace(":", "%3A")
    return f"{session}:{user_id}"


def thread_id_for(session_id: str, user_id: str) -> str:
    return str(uuid.uuid5(THREAD_NAMESPACE, thread_key(session_id, user_id)))


def thread_config(session_id: str, user_id: str) -> RunnableConfig:
    return {
        "configurable": {"thread_id": thread_id_for(session_id, user_id)},
        "metadata": {"session_id": session_id, "user_id": user_id},
    }

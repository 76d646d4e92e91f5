"""The ORM from async code."""

from channels.db import DatabaseSyncToAsync


def db_call(func):
    """`func` as an awaitable run in a worker thread with its own database connection.

    Channels' default (thread_sensitive) runs every call of a process in ONE thread, so a
    slow answer save would queue every other socket's; the service layer's calls are
    self-contained transactions, so they can run side by side.
    """
    return DatabaseSyncToAsync(func, thread_sensitive=False)

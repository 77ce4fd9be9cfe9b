"""PostgreSQL: peewee's connection pool on psycopg 3, which prepares repeated statements itself."""

from playhouse import db_url


def open_pool(url, max_connections):
    """Open a pooled PostgreSQL database for a postgresql+pool:// URL.

    psycopg 3 binds parameters on the server and prepares a statement once it has run five
    times on a connection, so the submit path's statements are parsed and planned once.
    """
    return db_url.connect(
        url, max_connections=max_connections, stale_timeout=600, prefer_psycopg3=True
    )

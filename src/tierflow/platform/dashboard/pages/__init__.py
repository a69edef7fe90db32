"""The dashboard's pages, one module per actor (mirroring templates/), each a router built on web.py."""

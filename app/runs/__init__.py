"""Run lifecycle: runs execute apart from the connections that watch them."""

"""Embedded TensorBoard: `instances` (start, cap, idle reaping, orphans), `views` (which runs a
view shows and the folders it may read) and `proxy` (forwarding to the view's own instance)."""

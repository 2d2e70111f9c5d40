"""One adapter per network behind one small interface (`base.Platform`)."""

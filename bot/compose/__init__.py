"""Composition: sandboxed templates, renderings, platform-exact lengths."""

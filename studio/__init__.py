"""Kinema's Qt studio: views and controllers over engine objects (`studio -> engine`, never back)."""

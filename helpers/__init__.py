"""Helpers for the neural style transfer notebooks."""

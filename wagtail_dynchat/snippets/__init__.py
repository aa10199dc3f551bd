"""Snippet models (dialogues) and their admin viewsets."""

"""Orchestration: the one layer that strings the stages together (build, bench, tune, deploy/profile jobs).

Stages (models, compress, export, compile, bundle; lab) never import this package.
"""

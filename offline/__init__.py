"""Runs the real Pulumi program in-process under the SDK's mock engine: no CLI, no cloud.

One harness serves both `make plan` and the unit tests (`offline.engine.run`).
"""

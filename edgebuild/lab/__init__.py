"""The device lab: inventory, SSH transport, provisioning, deploy, on-device profiling, emulation."""

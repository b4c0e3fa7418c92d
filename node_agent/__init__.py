"""The per-machine daemon: owns the local tmux session and the agents in it."""

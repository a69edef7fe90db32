"""Chain side of Tierflow: compile, deploy, devnet lifecycle, typed clients and revert decoding."""

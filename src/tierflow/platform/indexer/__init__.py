"""The indexer: contract events → handlers → SQL read models, reorg-safe and crash-safe."""

"""The domain, as plain functions over the models and the engine adapter. Services own the
transaction: they lock, call the adapter, write state, projection and audit, and commit."""

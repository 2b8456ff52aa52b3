// Anchor for the hw/ library until device models are added.

// Anchor for the server/ library until the SPICE server lands.

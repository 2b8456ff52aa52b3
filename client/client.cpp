// Anchor for the client/ library until the SPICE client lands.

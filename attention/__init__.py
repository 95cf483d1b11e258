"""The seed's encoder–decoder with attention, built only on minigrad."""

"""Station domain: provider files of the meteorological and hydrological networks, synced into the raw
layer as typed tables, then polished into regular daily series."""

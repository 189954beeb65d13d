"""IO managers that store assets under the storage layout contract: Parquet tables and COG rasters."""

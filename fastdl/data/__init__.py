"""fastdl.data: Dataset, DataLoader and bundled data sets."""

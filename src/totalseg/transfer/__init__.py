"""Generic transfer of large files: resumable HTTP downloads with retries and checksums
(:mod:`totalseg.transfer.download`) and safe, atomic zip extraction (:mod:`totalseg.transfer.archive`).
Nothing here knows about models or datasets; the weights store and the dataset tools build on it."""

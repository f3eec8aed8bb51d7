"""Change detection, watermarks, the chunked push loop and republishing."""

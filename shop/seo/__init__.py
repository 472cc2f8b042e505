"""What search engines see: robots.txt, the sitemap, and the canonical address, description,
robots rule and structured data in the head of each page."""

"""What the developer portal needs: the Backstage template and its rendition, exported from copier.yml."""

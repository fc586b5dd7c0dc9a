// Tests land here next.

"""The answer to 'which strategy?': evidence per case, the recommendation and its choice."""

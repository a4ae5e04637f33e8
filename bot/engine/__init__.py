"""Use cases: the only place that combines strategies (decide), exchanges (execute) and storage
(remember). Channels call these; these never import a channel."""

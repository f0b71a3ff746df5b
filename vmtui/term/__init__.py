"""Facts about the user's terminal (graphics protocols, hang-up), learnt outside Textual."""

"""Background LLM batch tasks, stored so that any worker can answer for them and pick them up."""

"""Data shipped with the package (Azure 2023 LLM traces, Vidur and Splitwise profiles); see NOTICE.md."""

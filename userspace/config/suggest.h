// "Did you mean ...?" for misspelt keywords.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tandem::config {

std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible
// typo (at most a third of the word's length, and at least 2 edits allowed).
std::optional<std::string> nearest(std::string_view word,
                                   std::span<const std::string_view> candidates);

}  // namespace tandem::config

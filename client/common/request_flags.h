// The request flags camserve-client and camserve-bench share, so both tools
// spell and check them the same way:
//   --model NAME  --method NAME  --layer PATH  --class N  --top-k N
//   --resolution input|feature|original  --bypass-cache true|false
//
// Thread-safety: free functions, no shared state.
// Errors: INVALID_ARGUMENT naming the flag and its value.
#pragma once

#include <map>
#include <string>

#include "camserve/v1/explainer.pb.h"
#include "core/util/flag_parser.h"
#include "core/util/status.h"

namespace camserve {

// Flag name -> help text, to merge into a tool's FlagParser.
std::map<std::string, std::string> RequestFlagHelp();

// An ExplainRequest with every option the flags set and no input yet.
StatusOr<v1::ExplainRequest> RequestTemplateFromFlags(const FlagParser& flags);

}  // namespace camserve

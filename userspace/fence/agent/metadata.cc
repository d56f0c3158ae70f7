#include "fence/agent/metadata.h"

#include <string>

namespace tandem::fence {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string getopt_mixed(const ParameterSpec& spec) {
  std::string mixed;
  if (spec.short_option != 0) {
    mixed += "-";
    mixed += spec.short_option;
    mixed += ", ";
  }
  mixed += "--" + spec.long_option;
  if (spec.type != ParameterType::kBoolean) {
    mixed += "=[" + (spec.value_name.empty() ? spec.name : spec.value_name) + "]";
  }
  return mixed;
}

void append_parameter(std::string& out, const ParameterSpec& spec, const std::string& name,
                      bool deprecated) {
  out += "\t<parameter name=\"" + xml_escape(name) + "\" unique=\"" + (spec.unique ? "1" : "0") +
         "\" required=\"" + (spec.required && !deprecated ? "1" : "0") + "\"";
  if (deprecated) {
    out += " deprecated=\"1\"";
  } else if (!spec.aliases.empty()) {
    std::string obsoletes;
    for (const std::string& alias : spec.aliases) {
      obsoletes += (obsoletes.empty() ? "" : ",") + alias;
    }
    out += " obsoletes=\"" + xml_escape(obsoletes) + "\"";
  }
  out += ">\n";
  out += "\t\t<getopt mixed=\"" + xml_escape(getopt_mixed(spec)) + "\" />\n";
  out += "\t\t<content type=\"";
  out += parameter_type_name(spec.type);
  out += "\"";
  if (!spec.default_value.empty()) {
    out += " default=\"" + xml_escape(spec.default_value) + "\"";
  } else if (spec.type == ParameterType::kBoolean) {
    out += " default=\"0\"";
  }
  if (spec.type == ParameterType::kSelect) {
    out += " >\n";
    for (const std::string& choice : spec.choices) {
      out += "\t\t\t<option value=\"" + xml_escape(choice) + "\" />\n";
    }
    out += "\t\t</content>\n";
  } else {
    out += " />\n";
  }
  out += "\t\t<shortdesc lang=\"en\">" + xml_escape(spec.shortdesc) + "</shortdesc>\n";
  out += "\t</parameter>\n";
}

}  // namespace

std::string metadata_xml(const AgentInfo& info) {
  std::string out = "<?xml version=\"1.0\" ?>\n";
  out += "<resource-agent name=\"" + xml_escape(info.name) + "\" shortdesc=\"" +
         xml_escape(info.shortdesc) + "\" >\n";
  out += "<longdesc>" + xml_escape(info.longdesc) + "</longdesc>\n";
  out += "<vendor-url>" + xml_escape(info.vendor_url) + "</vendor-url>\n";
  out += "<parameters>\n";
  for (const ParameterSpec& spec : all_parameters(info)) {
    if (spec.name == "help" || spec.name == "version") continue;  // not settable on stdin
    append_parameter(out, spec, spec.name, false);
    // fence-agents lists the old stdin names too, marked deprecated, so that
    // tools which only know those names (pcs, crm) still accept them.
    for (const std::string& alias : spec.aliases) {
      append_parameter(out, spec, alias, true);
    }
  }
  out += "</parameters>\n";
  out += "<actions>\n";
  out += "\t<action name=\"on\" automatic=\"0\"/>\n";
  out += "\t<action name=\"off\" />\n";
  out += "\t<action name=\"reboot\" />\n";
  out += "\t<action name=\"status\" />\n";
  if (info.supports_list) out += "\t<action name=\"list\" />\n";
  out += "\t<action name=\"monitor\" />\n";
  out += "\t<action name=\"metadata\" />\n";
  out += "\t<action name=\"validate-all\" />\n";
  out += "</actions>\n";
  out += "</resource-agent>\n";
  return out;
}

}  // namespace tandem::fence

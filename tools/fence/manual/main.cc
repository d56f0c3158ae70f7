// fence_tandem_manual: see userspace/fence/manual_agent.h.
#include <cstdio>

#include "fence/agent/agent.h"
#include "fence/manual_agent.h"

int main(int argc, char** argv) {
  tandem::fence::ManualAgent agent;
  return tandem::fence::run_agent(agent, tandem::fence::manual_agent_info(), argc, argv, stdin);
}

package route

import (
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Outcomes the CAS script returns as the first element of its reply; the
// rest is the stored hash after the script (HGETALL, flat).
const (
	outWritten   = "written"   // the entry was written and the change published
	outUnchanged = "unchanged" // same epoch, primary, kind, replicas, fleet: nothing to do
	outFleet     = "fleet"     // another fleet owns the key
	outEpoch     = "epoch"     // the stored epoch is higher
	outPrimary   = "primary"   // same epoch, another primary
	outMalformed = "malformed" // the stored entry has no valid epoch
)

// casSource is the compare-and-set of DESIGN.md §6.7, atomic in the routing
// Redis (a script runs alone).
//
// KEYS[1] the route hash.
// ARGV[1] fleet, [2] epoch (decimal, no leading zeros), [3] primary,
// [4] kind, [5] replicas (comma-separated), [6] updated_at,
// [7] updated_by, [8] channel, [9] change JSON up to the old_primary
// value, [10] the change JSON after it.
//
// Epochs are compared as decimal strings (length, then bytes), so all of
// uint64 compares exactly: Lua numbers are doubles. The old primary is
// JSON-encoded by cjson and spliced between ARGV[9] and ARGV[10], so the
// message is published only from here, only after the write.
const casSource = `
local key = KEYS[1]
local fleet, epoch, primary, kind, replicas = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local function reply(outcome)
  local r = {outcome}
  for _, v in ipairs(redis.call('HGETALL', key)) do r[#r + 1] = v end
  return r
end

local old = ''
if redis.call('EXISTS', key) == 1 then
  local cur = redis.call('HMGET', key, 'epoch', 'primary', 'fleet', 'kind', 'replicas')
  local sEpoch, sPrimary, sFleet, sKind, sReplicas = cur[1], cur[2] or '', cur[3] or '', cur[4] or '', cur[5] or ''
  if sFleet ~= '' and sFleet ~= fleet then
    return reply('fleet')
  end
  if not sEpoch or not string.match(sEpoch, '^%d+$') then
    return reply('malformed')
  end
  sEpoch = string.gsub(sEpoch, '^0+', '')
  local cmp = 0
  if #sEpoch ~= #epoch then
    cmp = (#sEpoch < #epoch) and -1 or 1
  elseif sEpoch ~= epoch then
    cmp = (sEpoch < epoch) and -1 or 1
  end
  if cmp > 0 then
    return reply('epoch')
  end
  if cmp == 0 then
    if sPrimary ~= primary then
      return reply('primary')
    end
    if sKind == kind and sReplicas == replicas and sFleet == fleet then
      return reply('unchanged')
    end
  end
  old = sPrimary
end

redis.call('HSET', key, 'primary', primary, 'epoch', epoch, 'kind', kind, 'replicas', replicas,
  'fleet', fleet, 'updated_at', ARGV[6], 'updated_by', ARGV[7])
redis.call('PUBLISH', ARGV[8], ARGV[9] .. cjson.encode(old) .. ARGV[10])
return reply('written')
`

// newCAS returns the script; Run does EVALSHA and falls back to EVAL when
// the server does not have it cached (NOSCRIPT, e.g. after a restart).
func newCAS() *redis.Script { return redis.NewScript(casSource) }

// refusal explains a refused outcome with the stored entry and ours.
// rawEpoch is the stored epoch field as found (it may not parse).
func refusal(outcome string, stored, ours Entry, rawEpoch, key string) string {
	switch outcome {
	case outFleet:
		return fmt.Sprintf("owned by fleet %s (we are %s)", stored.Fleet, ours.Fleet)
	case outEpoch:
		return fmt.Sprintf("stored epoch %s > %d", rawEpoch, ours.Epoch)
	case outPrimary:
		return fmt.Sprintf("epoch %d names primary %s, stored names %s", ours.Epoch, ours.Primary, stored.Primary)
	case outMalformed:
		return fmt.Sprintf("stored entry has no valid epoch (%q); inspect and delete %s to reset it", rawEpoch, key)
	default:
		return "unexpected script outcome " + outcome
	}
}

using System.Security.Cryptography;
using System.Text;

namespace WebSockets.Redis.Internal;

/// <summary>
/// The Lua scripts that keep presence. Per server, under <c>{prefix}:server:{id}</c>: <c>:members</c> (hash: connection
/// ID to the member as JSON), <c>:namespaces</c> and <c>:rooms</c> (sets of names), and per name <c>:ns:{name}</c> and
/// <c>:room:{name}</c> (sets of connection IDs). <c>{prefix}:servers</c> is a sorted set of server IDs scored by the
/// time (Redis's clock, in ms) their heartbeat expires. Every key has the presence TTL, refreshed by the heartbeat.
/// </summary>
internal static class RedisScripts
{
    private const string Now = """
        local function now()
            local t = redis.call('TIME')
            return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end

        """;

    private const string Drop = """
        local function drop(base)
            for _, ns in ipairs(redis.call('SMEMBERS', base .. ':namespaces')) do
                redis.call('DEL', base .. ':ns:' .. ns)
            end
            for _, room in ipairs(redis.call('SMEMBERS', base .. ':rooms')) do
                redis.call('DEL', base .. ':room:' .. room)
            end
            redis.call('DEL', base .. ':members', base .. ':namespaces', base .. ':rooms')
        end

        """;

    /// <summary>
    /// Records a member. KEYS: members, namespaces, the namespace's set, rooms, the left room's set (or rooms again),
    /// then one set per room the member is in. ARGV: connection ID, JSON, namespace, TTL ms, left room or '', then
    /// the names of the member's rooms.
    /// </summary>
    public static readonly Script SetMember = new("""
        local id, ttl = ARGV[1], tonumber(ARGV[4])
        redis.call('HSET', KEYS[1], id, ARGV[2])
        redis.call('SADD', KEYS[3], id)
        redis.call('SADD', KEYS[2], ARGV[3])
        if ARGV[5] ~= '' then
            redis.call('SREM', KEYS[5], id)
            if redis.call('SCARD', KEYS[5]) == 0 then
                redis.call('SREM', KEYS[4], ARGV[5])
            end
        end
        for i = 6, #KEYS do
            redis.call('SADD', KEYS[i], id)
            redis.call('PEXPIRE', KEYS[i], ttl)
            redis.call('SADD', KEYS[4], ARGV[i])
        end
        for i = 1, 4 do
            redis.call('PEXPIRE', KEYS[i], ttl)
        end
        return 1
        """);

    /// <summary>
    /// Removes a member. KEYS: members, namespaces, the namespace's set, rooms, then one set per room it was in.
    /// ARGV: connection ID, namespace, then the names of its rooms.
    /// </summary>
    public static readonly Script RemoveMember = new("""
        local id = ARGV[1]
        redis.call('HDEL', KEYS[1], id)
        redis.call('SREM', KEYS[3], id)
        if redis.call('SCARD', KEYS[3]) == 0 then
            redis.call('SREM', KEYS[2], ARGV[2])
        end
        for i = 5, #KEYS do
            redis.call('SREM', KEYS[i], id)
            if redis.call('SCARD', KEYS[i]) == 0 then
                redis.call('SREM', KEYS[4], ARGV[i - 2])
            end
        end
        return 1
        """);

    /// <summary>
    /// The heartbeat and the janitor. KEYS: servers. ARGV: the server key root ('{prefix}:server:'), this server's ID,
    /// TTL ms, '1' to add this server even when it is absent, the most dead servers to remove. Refreshes this server's
    /// expiry and TTLs only while it is present (or announced); removes expired servers and their keys. Returns
    /// { 1 if present, { removed IDs }, { live IDs } }.
    /// </summary>
    public static readonly Script Heartbeat = new(Now + Drop + """
        local zkey, root, id, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
        local t = now()
        local score = redis.call('ZSCORE', zkey, id)
        local present = (score and tonumber(score) > t) or ARGV[4] == '1'
        if present then
            redis.call('ZADD', zkey, t + ttl, id)
            local base = root .. id
            for _, ns in ipairs(redis.call('SMEMBERS', base .. ':namespaces')) do
                redis.call('PEXPIRE', base .. ':ns:' .. ns, ttl)
            end
            for _, room in ipairs(redis.call('SMEMBERS', base .. ':rooms')) do
                redis.call('PEXPIRE', base .. ':room:' .. room, ttl)
            end
            redis.call('PEXPIRE', base .. ':members', ttl)
            redis.call('PEXPIRE', base .. ':namespaces', ttl)
            redis.call('PEXPIRE', base .. ':rooms', ttl)
        end
        local removed = {}
        for _, dead in ipairs(redis.call('ZRANGEBYSCORE', zkey, '-inf', t, 'LIMIT', 0, tonumber(ARGV[5]))) do
            if dead ~= id then
                drop(root .. dead)
                redis.call('ZREM', zkey, dead)
                removed[#removed + 1] = dead
            end
        end
        if redis.call('EXISTS', zkey) == 1 then
            redis.call('PEXPIRE', zkey, ttl * 2)
        end
        return { present and 1 or 0, removed, redis.call('ZRANGEBYSCORE', zkey, '(' .. t, '+inf') }
        """);

    /// <summary>Removes a server and its keys. KEYS: servers. ARGV: the server key root, the server ID.</summary>
    public static readonly Script Clear = new(Drop + """
        redis.call('ZREM', KEYS[1], ARGV[2])
        drop(ARGV[1] .. ARGV[2])
        return 1
        """);

    /// <summary>The IDs of the live servers. KEYS: servers.</summary>
    public static readonly Script LiveServers = new(Now + """
        return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now(), '+inf')
        """);

    /// <summary>One server's members of a room, as JSON. KEYS: the room's set, members.</summary>
    public static readonly Script RoomMembers = new("""
        local ids = redis.call('SMEMBERS', KEYS[1])
        local out = {}
        for i = 1, #ids, 1000 do
            local values = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))
            for _, value in ipairs(values) do
                if value then
                    out[#out + 1] = value
                end
            end
        end
        return out
        """);

    /// <summary>
    /// One server's counts. KEYS: namespaces, rooms. ARGV: the server's key base. Returns { namespace count, then
    /// name, count pairs for namespaces and then rooms }.
    /// </summary>
    public static readonly Script Counts = new("""
        local base = ARGV[1]
        local namespaces = redis.call('SMEMBERS', KEYS[1])
        local out = { #namespaces }
        for _, ns in ipairs(namespaces) do
            out[#out + 1] = ns
            out[#out + 1] = redis.call('SCARD', base .. ':ns:' .. ns)
        end
        for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            out[#out + 1] = room
            out[#out + 1] = redis.call('SCARD', base .. ':room:' .. room)
        end
        return out
        """);

    public static IEnumerable<Script> All => [SetMember, RemoveMember, Heartbeat, Clear, LiveServers, RoomMembers, Counts];

    /// <summary>A script and its SHA-1, by which Redis caches it.</summary>
    internal sealed class Script(string text)
    {
        public string Text { get; } = text;

        public string Sha1 { get; } = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
    }
}

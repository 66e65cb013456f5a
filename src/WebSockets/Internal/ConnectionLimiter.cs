using System.Net;
using System.Net.Sockets;

namespace WebSockets.Internal;

/// <summary>
/// The registry's connection limits: in total, per user and per remote address. A slot is taken, atomically for all three
/// counts, before an upgrade is accepted, and given back once when the connection is over or its upgrade failed, so
/// concurrent upgrades can't overshoot and no outcome leaks a slot.
/// </summary>
internal sealed class ConnectionLimiter
{
    private readonly int _maxConnections;
    private readonly int _maxPerUser;
    private readonly int _maxPerAddress;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private int _count;

    public ConnectionLimiter(SocketRegistryOptions options)
    {
        _maxConnections = options.MaxConnections ?? int.MaxValue;
        _maxPerUser = options.MaxConnectionsPerUser ?? int.MaxValue;
        _maxPerAddress = options.MaxConnectionsPerIpAddress ?? int.MaxValue;
        IsEnabled = options.MaxConnections is not null || options.MaxConnectionsPerUser is not null || options.MaxConnectionsPerIpAddress is not null;
    }

    /// <summary>Whether any limit is set; when none is, no slot is ever taken and upgrades cost nothing here.</summary>
    public bool IsEnabled { get; }

    /// <summary>Slots held right now (connections being accepted or open).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Slots held right now by one user or one address (for tests).</summary>
    internal int CountOf(string? userId, IPAddress? address)
    {
        lock (_lock)
        {
            if (userId is not null)
            {
                return _perUser.GetValueOrDefault(userId);
            }

            return address is not null ? _perAddress.GetValueOrDefault(AddressKey(address)) : 0;
        }
    }

    /// <summary>
    /// Takes a slot for a new connection, or says which limit refuses it (a <see cref="RejectionReason"/> value). When no
    /// limit is set, succeeds with a null slot.
    /// </summary>
    public bool TryAcquire(string? userId, IPAddress? remoteAddress, out ConnectionSlot? slot, out string? refusal)
    {
        slot = null;
        refusal = null;
        if (!IsEnabled)
        {
            return true;
        }

        var userKey = _maxPerUser == int.MaxValue ? null : userId;
        var addressKey = _maxPerAddress == int.MaxValue || remoteAddress is null ? null : AddressKey(remoteAddress);
        lock (_lock)
        {
            if (_count >= _maxConnections)
            {
                refusal = RejectionReason.MaxConnections;
                return false;
            }

            var userCount = userKey is null ? 0 : _perUser.GetValueOrDefault(userKey);
            if (userCount >= _maxPerUser)
            {
                refusal = RejectionReason.MaxConnectionsPerUser;
                return false;
            }

            var addressCount = addressKey is null ? 0 : _perAddress.GetValueOrDefault(addressKey);
            if (addressCount >= _maxPerAddress)
            {
                refusal = RejectionReason.MaxConnectionsPerIpAddress;
                return false;
            }

            _count++;
            if (userKey is not null)
            {
                _perUser[userKey] = userCount + 1;
            }

            if (addressKey is not null)
            {
                _perAddress[addressKey] = addressCount + 1;
            }
        }

        slot = new ConnectionSlot(this, userKey, addressKey);
        return true;
    }

    private void Release(string? userKey, IPAddress? addressKey)
    {
        lock (_lock)
        {
            _count--;
            if (userKey is not null)
            {
                Decrement(_perUser, userKey);
            }

            if (addressKey is not null)
            {
                Decrement(_perAddress, addressKey);
            }
        }

        // Entries at zero are removed, so the maps hold only users and addresses that are connected.
        static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key)
            where TKey : notnull
        {
            var left = counts[key] - 1;
            if (left == 0)
            {
                counts.Remove(key);
            }
            else
            {
                counts[key] = left;
            }
        }
    }

    /// <summary>
    /// The address a connection counts against: IPv4 as it is (also when mapped into IPv6), IPv6 by its /64 prefix.
    /// </summary>
    internal static IPAddress AddressKey(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>One connection's slot. Releasing it more than once releases it once.</summary>
    internal sealed class ConnectionSlot(ConnectionLimiter limiter, string? userKey, IPAddress? addressKey)
    {
        private int _released;

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                limiter.Release(userKey, addressKey);
            }
        }
    }
}

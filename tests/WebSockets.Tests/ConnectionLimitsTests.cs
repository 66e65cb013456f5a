using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// Connection limits (issue 8): in total, per user and per remote address, refused at the handshake before the upgrade is
/// accepted, race-free under concurrent upgrades and leak-free however connections end.
/// </summary>
public sealed class ConnectionLimitsTests
{
    private const string Path = "/ws";
    private const string Rejected = "websockets.server.rejected_connections";
    private const string ReasonTag = "websockets.rejection.reason";

    // ---- Refusals ------------------------------------------------------------------------------------------

    [Fact]
    public async Task MaxConnections_UpgradeBeyondIt_IsRefusedWith503BeforeAcceptAndNeverRegistered()
    {
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o => o.MaxConnections = 2);
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var a = await host.ConnectAsync(Path);
        using var b = await host.ConnectAsync(Path);
        await hooks.ConnectedAsync(2);

        var refused = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path)).DefaultTimeout();

        Assert.Equal(503, refused.StatusCode);
        Assert.False(refused.Headers.ContainsKey("Sec-WebSocket-Accept"), refused.ToString());
        Assert.StartsWith("text/plain", refused.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.Contains("maximum number of WebSocket connections", refused.Body, StringComparison.Ordinal);
        Assert.Equal(2, host.Registry.Count);
        Assert.Equal(2, hooks.Connected);
        Assert.Equal(1, metrics.Sum(Rejected, ReasonTag, "max_connections"));
        Assert.Single(host.Logs.WithEventName("ConnectionLimitReached"));

        // The two open connections are unaffected.
        await AssertEchoesAsync(a, 1);
        await AssertEchoesAsync(b, 1);
    }

    [Fact]
    public async Task MaxConnectionsPerUser_UpgradeBeyondIt_IsRefusedWith429_OtherUsersAndAnonymousAreNot()
    {
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o => o.MaxConnectionsPerUser = 2);
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var alice1 = await host.ConnectAsync(Path + "?user=alice");
        using var alice2 = await host.ConnectAsync(Path + "?user=alice");

        var refused = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path + "?user=alice")).DefaultTimeout();

        Assert.Equal(429, refused.StatusCode);
        Assert.Contains("This user", refused.Body, StringComparison.Ordinal);
        using var bob = await host.ConnectAsync(Path + "?user=bob");
        using var anonymous1 = await host.ConnectAsync(Path);
        using var anonymous2 = await host.ConnectAsync(Path);
        using var anonymous3 = await host.ConnectAsync(Path);
        await hooks.ConnectedAsync(6);
        Assert.Equal(6, host.Registry.Count);
        Assert.Equal(2, host.RegistryInternal.Limits.CountOf("alice", null));
        Assert.Equal(1, metrics.Sum(Rejected, ReasonTag, "max_connections_per_user"));
        var log = Assert.Single(host.Logs.WithEventName("UserConnectionLimitReached"));
        Assert.Contains("alice", log.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxConnectionsPerIpAddress_UpgradeBeyondIt_IsRefusedWith429()
    {
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o => o.MaxConnectionsPerIpAddress = 2);
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var a = await host.ConnectAsync(Path + "?user=a");
        using var b = await host.ConnectAsync(Path + "?user=b");

        var refused = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path + "?user=c")).DefaultTimeout();

        Assert.Equal(429, refused.StatusCode);
        Assert.Contains("This address", refused.Body, StringComparison.Ordinal);
        Assert.Equal(2, host.Registry.Count);
        Assert.Equal(2, host.RegistryInternal.Limits.CountOf(null, IPAddress.Loopback));
        Assert.Equal(1, metrics.Sum(Rejected, ReasonTag, "max_connections_per_ip"));
        Assert.Single(host.Logs.WithEventName("IpConnectionLimitReached"));
    }

    [Fact]
    public async Task ConnectionLimit_OnUpgradeFailed_WritesTheRefusalWithItsStatusAndReason()
    {
        var hooks = new Hooks();
        await using var host = await StartAsync(
            hooks,
            o => o.MaxConnectionsPerUser = 1,
            e => e.OnUpgradeFailed = failed =>
            {
                failed.HttpContext.Response.ContentType = "application/json";
                return failed.HttpContext.Response.WriteAsync(JsonSerializer.Serialize(new { status = failed.StatusCode, reason = failed.Reason }));
            });
        using var first = await host.ConnectAsync(Path + "?user=ann");

        var refused = await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path + "?user=ann")).DefaultTimeout();

        Assert.Equal(429, refused.StatusCode);
        var body = JsonDocument.Parse(refused.Body).RootElement;
        Assert.Equal(429, body.GetProperty("status").GetInt32());
        Assert.Contains("maximum number of WebSocket connections", body.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    // ---- Race-free ------------------------------------------------------------------------------------------

    [Fact]
    public async Task MaxConnections_ManyConcurrentUpgrades_ExactlyTheLimitIsAccepted()
    {
        const int Limit = 5;
        const int Attempts = 24;
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o => o.MaxConnections = Limit);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, Attempts).Select(async _ =>
        {
            await gate.Task;
            try
            {
                return (Client: await RawWebSocketClient.ConnectAsync(host.WebSocketUri(Path)), Status: 101);
            }
            catch (RawHandshakeException ex)
            {
                return (Client: (RawWebSocketClient?)null, Status: ex.Response.StatusCode);
            }
        }).ToArray();

        gate.SetResult();
        var results = await Task.WhenAll(attempts).DefaultTimeout();
        try
        {
            Assert.Equal(Limit, results.Count(r => r.Status == 101));
            Assert.Equal(Attempts - Limit, results.Count(r => r.Status == 503));
            await hooks.ConnectedAsync(Limit);
            Assert.Equal(Limit, host.Registry.Count);
            Assert.Equal(Limit, host.RegistryInternal.Limits.Count);
        }
        finally
        {
            foreach (var (client, _) in results)
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }

    // ---- Leak-free ------------------------------------------------------------------------------------------

    [Fact]
    public async Task ConnectionLimit_OpenToTheLimitCloseSome_CanOpenAgainUpToTheLimit()
    {
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o =>
        {
            o.MaxConnections = 3;
            o.MaxConnectionsPerUser = 3;
            o.MaxConnectionsPerIpAddress = 3;
        });
        var clients = new List<ClientWebSocket>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await host.ConnectAsync(Path + "?user=ann"));
        }

        Assert.Equal(503, (await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path + "?user=ann")).DefaultTimeout()).StatusCode);

        // Close two cleanly: their slots are free by the time their disconnect hooks run.
        for (var i = 0; i < 2; i++)
        {
            await clients[i].CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
            clients[i].Dispose();
            Assert.Equal(DisconnectReason.ClientClosed, await hooks.NextDisconnectedAsync());
        }

        Assert.Equal(1, host.RegistryInternal.Limits.Count);
        Assert.Equal(1, host.RegistryInternal.Limits.CountOf("ann", null));
        Assert.Equal(1, host.RegistryInternal.Limits.CountOf(null, IPAddress.Loopback));

        using var again1 = await host.ConnectAsync(Path + "?user=ann");
        using var again2 = await host.ConnectAsync(Path + "?user=ann");
        await AssertEchoesAsync(again2, 1);
        Assert.Equal(503, (await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path + "?user=ann")).DefaultTimeout()).StatusCode);
        clients[2].Dispose();
    }

    [Fact]
    public async Task ConnectionLimit_ClientsVanishWithTcpResets_EverySlotComesBack()
    {
        const int Limit = 3;
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o =>
        {
            o.MaxConnections = Limit;
            o.MaxConnectionsPerUser = Limit;
            o.MaxConnectionsPerIpAddress = Limit;
        });

        for (var round = 0; round < 2; round++)
        {
            var clients = new List<RawWebSocketClient>();
            for (var i = 0; i < Limit; i++)
            {
                clients.Add(await host.ConnectRawAsync(Path + "?user=ann"));
            }

            await hooks.ConnectedAsync(Limit * (round + 1));
            Assert.Equal(Limit, host.RegistryInternal.Limits.Count);
            foreach (var client in clients)
            {
                client.Reset();
            }

            for (var i = 0; i < Limit; i++)
            {
                Assert.Equal(DisconnectReason.ConnectionLost, await hooks.NextDisconnectedAsync());
            }

            Assert.Equal(0, host.RegistryInternal.Limits.Count);
            Assert.Equal(0, host.RegistryInternal.Limits.CountOf("ann", null));
            Assert.Equal(0, host.RegistryInternal.Limits.CountOf(null, IPAddress.Loopback));
        }
    }

    [Fact]
    public async Task ConnectionLimit_UpgradeRefusedForADuplicateId_GivesItsSlotBack()
    {
        var hooks = new Hooks();
        await using var host = await StartAsync(hooks, o =>
        {
            o.MaxConnections = 2;
            o.ConnectionIdGenerator = context => context.Request.Query["id"].ToString();
        });
        using var first = await host.ConnectAsync(Path + "?id=same");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(409, (await RawWebSocketClient.SendRequestAsync(host.WebSocketUri(Path + "?id=same")).DefaultTimeout()).StatusCode);
        }

        Assert.Equal(1, host.RegistryInternal.Limits.Count);
        using var second = await host.ConnectAsync(Path + "?id=other");
        await AssertEchoesAsync(second, 1);
    }

    // ---- Options --------------------------------------------------------------------------------------------

    [Fact]
    public void ConnectionLimits_DefaultToNoLimit()
    {
        var options = new SocketRegistryOptions();

        Assert.Null(options.MaxConnections);
        Assert.Null(options.MaxConnectionsPerUser);
        Assert.Null(options.MaxConnectionsPerIpAddress);
        Assert.False(new ConnectionLimiter(options).IsEnabled);
    }

    [Fact]
    public void ConnectionLimits_ZeroOrNegative_FailValidationNamingEachOption()
    {
        var result = new SocketRegistryOptionsValidator().Validate(null, new SocketRegistryOptions
        {
            MaxConnections = 0,
            MaxConnectionsPerUser = -1,
            MaxConnectionsPerIpAddress = 0,
        });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(nameof(SocketRegistryOptions.MaxConnections) + " ", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains(nameof(SocketRegistryOptions.MaxConnectionsPerUser), StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains(nameof(SocketRegistryOptions.MaxConnectionsPerIpAddress), StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::")]
    public void AddressKey_IPv4AsItIs_IPv6ByItsSlash64(string address, string key)
        => Assert.Equal(IPAddress.Parse(key), ConnectionLimiter.AddressKey(IPAddress.Parse(address)));

    [Fact]
    public void PerAddressLimit_CountsIPv6AddressesOfOnePrefixTogether()
    {
        var limiter = new ConnectionLimiter(new SocketRegistryOptions { MaxConnectionsPerIpAddress = 2 });

        Assert.True(limiter.TryAcquire(null, IPAddress.Parse("2001:db8::1"), out var a, out _));
        Assert.True(limiter.TryAcquire(null, IPAddress.Parse("2001:db8::2"), out _, out _));
        Assert.False(limiter.TryAcquire(null, IPAddress.Parse("2001:db8::3"), out _, out var refusal));
        Assert.Equal("max_connections_per_ip", refusal);
        Assert.True(limiter.TryAcquire(null, IPAddress.Parse("2001:db8:0:1::1"), out _, out _));

        a!.Release();
        a.Release(); // twice: released once
        Assert.Equal(2, limiter.Count);
        Assert.True(limiter.TryAcquire(null, IPAddress.Parse("2001:db8::4"), out _, out _));
        Assert.False(limiter.TryAcquire(null, IPAddress.Parse("2001:db8::5"), out _, out _));
    }

    // ---- Helpers ---------------------------------------------------------------------------------------------

    /// <summary>A host whose "default" namespace has an "echo" request; the user ID is the "user" query value.</summary>
    private static Task<TestHost> StartAsync(Hooks hooks, Action<SocketRegistryOptions> options, Action<WebSocketEndpointOptions>? endpoint = null)
        => TestHost.StartAsync(
            s => s.AddSocketRegistry(o =>
                {
                    o.UserIdProvider = context => context.Request.Query.TryGetValue("user", out var user) ? user.ToString() : null;
                    options(o);
                })
                .AddNamespace(SocketRegistryOptions.DefaultNamespace, ns =>
                {
                    hooks.Attach(ns);
                    ns.On<string, string>("echo", (_, text, _) => Task.FromResult(text));
                }),
            app => app.MapWebSocketEndpoint(Path, SocketRegistryOptions.DefaultNamespace, o => endpoint?.Invoke(o)));

    private static async Task AssertEchoesAsync(ClientWebSocket client, long id)
    {
        await client.SendTextAsync($$"""{"event":"echo","data":"hi","id":{{id}}}""");
        var reply = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal(id, reply.GetProperty("reply").GetInt64());
        Assert.Equal("hi", reply.GetProperty("data").GetString());
    }

    /// <summary>Counts connect hooks and records disconnect reasons, in order.</summary>
    private sealed class Hooks
    {
        private readonly Channel<DisconnectReason> _disconnected = Channel.CreateUnbounded<DisconnectReason>();
        private readonly Lock _lock = new();
        private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
        private int _connected;

        public int Connected => Volatile.Read(ref _connected);

        public void Attach(SocketNamespaceBuilder ns) => ns
            .OnConnected((_, _) =>
            {
                lock (_lock)
                {
                    _connected++;
                    foreach (var waiter in _waiters.Where(w => w.Count <= _connected))
                    {
                        waiter.Signal.TrySetResult();
                    }
                }

                return Task.CompletedTask;
            })
            .OnDisconnected((_, reason, _) =>
            {
                _disconnected.Writer.TryWrite(reason);
                return Task.CompletedTask;
            });

        /// <summary>Completes once <paramref name="count"/> connect hooks have run in all.</summary>
        public Task ConnectedAsync(int count)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_connected >= count)
                {
                    return Task.CompletedTask;
                }

                _waiters.Add((count, signal));
            }

            return signal.Task.DefaultTimeout();
        }

        public Task<DisconnectReason> NextDisconnectedAsync() => _disconnected.Reader.ReadAsync().AsTask().DefaultTimeout();
    }
}

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>AddSocketRegistry and MapWebSocketEndpoint: service registration, options validation, map-time errors.</summary>
public sealed class RegistrationTests
{
    public sealed record SomeRecord(string Name);

    // ---- AddSocketRegistry -----------------------------------------------------------------------------------

    [Fact]
    public void AddSocketRegistry_RegistersSingletonRegistryAndOneHostedService()
    {
        var services = new ServiceCollection().AddLogging();

        services.AddSocketRegistry();

        var registryDescriptor = Assert.Single(services, d => d.ServiceType == typeof(ISocketRegistry));
        Assert.Equal(ServiceLifetime.Singleton, registryDescriptor.Lifetime);
        var hosted = Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        Assert.Equal(ServiceLifetime.Singleton, hosted.Lifetime);

        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        var registry = provider.GetRequiredService<ISocketRegistry>();
        Assert.Same(registry, provider.GetRequiredService<ISocketRegistry>());
        using (var scope = provider.CreateScope())
        {
            Assert.Same(registry, scope.ServiceProvider.GetRequiredService<ISocketRegistry>());
        }

        Assert.IsType<SocketRegistryHostedService>(Assert.Single(provider.GetServices<IHostedService>()));
        Assert.Equal(0, registry.Count);
    }

    [Fact]
    public void AddSocketRegistry_CalledTwice_DoesNotDuplicateServices()
    {
        var services = new ServiceCollection().AddLogging();

        services.AddSocketRegistry();
        services.AddSocketRegistry();

        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        Assert.Single(services, d => d.ServiceType == typeof(ISocketRegistry));
        Assert.Single(services, d => d.ServiceType == typeof(IValidateOptions<SocketRegistryOptions>));
        using var provider = services.BuildServiceProvider();
        Assert.Single(provider.GetServices<IHostedService>());
        Assert.Same(provider.GetRequiredService<SocketRegistry>(), provider.GetRequiredService<ISocketRegistry>());
    }

    [Fact]
    public void AddSocketRegistry_OptionsCallback_AppliedAfterDefaults()
    {
        var services = new ServiceCollection().AddLogging();

        services.AddSocketRegistry(o =>
        {
            // The callback sees the defaults, so it can build on them.
            Assert.Equal(256, o.SendQueueCapacity);
            o.SendQueueCapacity *= 2;
            o.EnableDetailedErrors = true;
        });
        services.AddSocketRegistry(o => o.DrainTimeout = TimeSpan.FromSeconds(3));

        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<SocketRegistryOptions>>().Value;
        Assert.Equal(512, options.SendQueueCapacity);
        Assert.True(options.EnableDetailedErrors);
        Assert.Equal(TimeSpan.FromSeconds(3), options.DrainTimeout);

        // Untouched options keep their defaults.
        Assert.Equal(TimeSpan.FromSeconds(5), options.CloseTimeout);
        Assert.Equal(SendQueueFullMode.Close, options.SendQueueFullMode);
        Assert.NotNull(options.JsonSerializerOptions);
        Assert.Null(options.ConnectionIdGenerator);
        Assert.Same(options, provider.GetRequiredService<SocketRegistry>().Options);
    }

    // ---- Options validation ----------------------------------------------------------------------------------

    [Fact]
    public async Task InvalidRegistryOptions_HostStartFailsListingEveryFailure()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.AddSocketRegistry(o =>
        {
            o.SendQueueCapacity = 0;
            o.CloseTimeout = TimeSpan.Zero;
            o.DrainTimeout = TimeSpan.FromSeconds(-1);
        });
        await using var app = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync()).DefaultTimeout();

        Assert.Equal(typeof(SocketRegistryOptions), ex.OptionsType);
        var failures = ex.Failures.ToList();
        Assert.Equal(3, failures.Count);
        Assert.Contains(failures, f => f.Contains(nameof(SocketRegistryOptions.SendQueueCapacity), StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains(nameof(SocketRegistryOptions.CloseTimeout), StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains(nameof(SocketRegistryOptions.DrainTimeout), StringComparison.Ordinal));
        Assert.Contains(nameof(SocketRegistryOptions.SendQueueCapacity), ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(SocketRegistryOptions.DrainTimeout), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidRegistryOptions_HostStarts()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(o =>
            {
                o.SendQueueCapacity = 1;
                o.CloseTimeout = TimeSpan.FromMilliseconds(1);
                o.DrainTimeout = TimeSpan.FromMilliseconds(1);
            }),
            app => app.MapWebSocketEndpoint("/ws", (string message) => message));

        using var client = await host.ConnectAsync("/ws");
        await client.SendTextAsync("ok");
        Assert.Equal("ok", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task InvalidEndpointOptions_MapThrowsNamingEveryFailure()
    {
        await using var app = BuildApp(s => s.AddSocketRegistry());

        var ex = Assert.Throws<OptionsValidationException>(() => app.MapWebSocketEndpoint("/ws", (string message) => message, o =>
        {
            o.MaxMessageSize = 0;
            o.HandshakeTimeout = TimeSpan.Zero;
        }));

        Assert.Equal(typeof(WebSocketEndpointOptions), ex.OptionsType);
        Assert.Contains(ex.Failures, f => f.Contains(nameof(WebSocketEndpointOptions.MaxMessageSize), StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains(nameof(WebSocketEndpointOptions.HandshakeTimeout), StringComparison.Ordinal));
        Assert.Contains("/ws", ex.OptionsName, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidEndpointOptions_NothingIsMapped()
    {
        await using var app = BuildApp(s => s.AddSocketRegistry());
        var endpoints = (IEndpointRouteBuilder)app;

        Assert.Throws<OptionsValidationException>(() => app.MapWebSocketEndpoint("/ws", o => o.HandshakeTimeout = TimeSpan.FromSeconds(-5)));

        Assert.Empty(endpoints.DataSources.SelectMany(d => d.Endpoints));
    }

    // ---- Map-time errors -------------------------------------------------------------------------------------

    [Fact]
    public async Task MapWithoutAddSocketRegistry_ThrowsTellingToCallAddSocketRegistry()
    {
        await using var app = BuildApp(_ => { });

        var ex = Assert.Throws<InvalidOperationException>(() => app.MapWebSocketEndpoint("/ws", (string message) => message));

        Assert.Contains("AddSocketRegistry()", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnregisteredNamespace_ThrowsNamingNamespaceAndAddNamespace()
    {
        await using var app = BuildApp(s => s.AddSocketRegistry().AddNamespace("lobby", _ => { }));

        var ex = Assert.Throws<InvalidOperationException>(() => app.MapWebSocketEndpoint("/ws", o => o.Namespace = "chat"));

        Assert.Contains("'chat'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AddNamespace", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegisteredNamespace_ConnectionsJoinIt()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace("chat", _ => { }),
            app => app.MapWebSocketEndpoint("/ws", (string _, ISocketConnection connection) => connection.Namespace, o => o.Namespace = "chat"));

        using var client = await host.ConnectAsync("/ws");
        await client.SendTextAsync("where?");

        Assert.Equal("chat", await client.ReceiveTextAsync());
        Assert.Equal(1, host.Registry.GetCount("chat"));
        Assert.Equal(0, host.Registry.GetCount(SocketRegistryOptions.DefaultNamespace));
    }

    [Fact]
    public async Task HandlerWithTwoMessageCandidates_ThrowsAtMapTimeNamingBoth()
    {
        await using var app = BuildApp(s => s.AddSocketRegistry());

        var ex = Assert.Throws<InvalidOperationException>(() => app.MapWebSocketEndpoint("/ws", (string a, SomeRecord b) => a + b.Name));

        Assert.Contains("'a'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'b'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("message", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[FromServices]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandlerTakingHttpContext_ThrowsAtMapTime()
    {
        await using var app = BuildApp(s => s.AddSocketRegistry());

        var ex = Assert.Throws<InvalidOperationException>(() => app.MapWebSocketEndpoint("/ws", (string message, HttpContext context) => message));

        Assert.Contains("'context'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(HttpContext), ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(ISocketConnection), ex.Message, StringComparison.Ordinal);
    }

    private static WebApplication BuildApp(Action<IServiceCollection> configureServices)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        configureServices(builder.Services);
        return builder.Build();
    }
}

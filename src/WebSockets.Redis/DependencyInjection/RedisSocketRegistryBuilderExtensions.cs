using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using WebSockets;
using WebSockets.Redis;
using WebSockets.Redis.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Connects the socket registries of several servers through Redis, so that they act as one.
/// </summary>
public static class RedisSocketRegistryBuilderExtensions
{
    /// <summary>Uses Redis at <c>localhost:6379</c> as the backplane.</summary>
    /// <param name="builder">The registry builder from <c>AddSocketRegistry</c>.</param>
    /// <returns>The registry builder.</returns>
    public static ISocketRegistryBuilder AddRedisBackplane(this ISocketRegistryBuilder builder)
        => AddRedisBackplane(builder, static _ => { });

    /// <summary>Uses Redis as the backplane.</summary>
    /// <param name="builder">The registry builder from <c>AddSocketRegistry</c>.</param>
    /// <param name="configuration">The Redis server, as in <see cref="RedisBackplaneOptions.Configuration"/>, for example <c>"localhost:6379"</c>.</param>
    /// <returns>The registry builder.</returns>
    public static ISocketRegistryBuilder AddRedisBackplane(this ISocketRegistryBuilder builder, string configuration)
        => AddRedisBackplane(builder, configuration, static _ => { });

    /// <summary>Uses Redis as the backplane.</summary>
    /// <param name="builder">The registry builder from <c>AddSocketRegistry</c>.</param>
    /// <param name="configuration">The Redis server, as in <see cref="RedisBackplaneOptions.Configuration"/>.</param>
    /// <param name="configure">Configures <see cref="RedisBackplaneOptions"/>; applied after <paramref name="configuration"/>.</param>
    /// <returns>The registry builder.</returns>
    public static ISocketRegistryBuilder AddRedisBackplane(this ISocketRegistryBuilder builder, string configuration, Action<RedisBackplaneOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        ArgumentNullException.ThrowIfNull(configure);
        return AddRedisBackplane(builder, options =>
        {
            options.Configuration = configuration;
            configure(options);
        });
    }

    /// <summary>
    /// Uses Redis as the backplane: replaces the registry's default backplane. Options are validated when the host
    /// starts.
    /// </summary>
    /// <param name="builder">The registry builder from <c>AddSocketRegistry</c>.</param>
    /// <param name="configure">Configures <see cref="RedisBackplaneOptions"/>; applied after the defaults.</param>
    /// <returns>The registry builder.</returns>
    public static ISocketRegistryBuilder AddRedisBackplane(this ISocketRegistryBuilder builder, Action<RedisBackplaneOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        var services = builder.Services;
        services.AddOptions<RedisBackplaneOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisBackplaneOptions>, RedisBackplaneOptionsValidator>());
        services.Configure(configure);
        services.AddMetrics();
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<RedisBackplaneMetrics>();

        // AddSocketRegistry registers its default with TryAdd: this one takes its place, whatever the order of calls.
        services.RemoveAll<SocketBackplane>();
        services.AddSingleton<SocketBackplane, RedisSocketBackplane>();
        return builder;
    }
}

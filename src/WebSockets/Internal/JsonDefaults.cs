using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Internal;

/// <summary>
/// The serializer options used when the application gives none: the web defaults (camelCase, case-insensitive reads),
/// with the reflection-based resolver only where reflection-based serialization is enabled.
/// </summary>
/// <remarks>
/// This is what ASP.NET Core's own <c>JsonOptions</c> does. In a trimmed or Native AOT app the SDK turns the
/// <c>System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault</c> feature switch off, the options start with an empty
/// resolver, and the app adds its <see cref="JsonSerializerContext"/> to <see cref="JsonSerializerOptions.TypeInfoResolverChain"/>.
/// </remarks>
internal static class JsonDefaults
{
    /// <summary>A shared, read-only instance, for APIs whose options argument is optional.</summary>
    public static JsonSerializerOptions Web { get; } = CreateReadOnly();

    /// <summary>A new, mutable instance, for an options property the application may change.</summary>
    public static JsonSerializerOptions CreateWebOptions() => new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = JsonSerializer.IsReflectionEnabledByDefault ? CreateReflectionResolver() : JsonTypeInfoResolver.Combine(),
    };

    /// <summary>
    /// Gives options that have no resolver (<c>new JsonSerializerOptions(...)</c>) the one System.Text.Json would fill in
    /// itself on first use: <see cref="JsonSerializerOptions.GetTypeInfo"/>, which the library calls, does not. Read-only
    /// options are left as they are. Returns <paramref name="options"/>.
    /// </summary>
    public static JsonSerializerOptions WithResolver(JsonSerializerOptions options)
    {
        if (options.TypeInfoResolver is null && !options.IsReadOnly)
        {
            options.TypeInfoResolver = JsonSerializer.IsReflectionEnabledByDefault ? CreateReflectionResolver() : JsonTypeInfoResolver.Combine();
        }

        return options;
    }

    private static JsonSerializerOptions CreateReadOnly()
    {
        var options = CreateWebOptions();
        options.MakeReadOnly();
        return options;
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification =
        "Called only when JsonSerializer.IsReflectionEnabledByDefault is true. Trimmed and Native AOT apps have that feature switch off " +
        "(JsonSerializerIsReflectionEnabledByDefault is false unless the app turns it on), and the trimmer removes this call.")]
    [UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification =
        "Called only when JsonSerializer.IsReflectionEnabledByDefault is true, which Native AOT apps turn off; see IL2026 above.")]
    private static DefaultJsonTypeInfoResolver CreateReflectionResolver() => new();
}

/// <summary>
/// Source-generated metadata for the library's own payloads (the data and replies of the built-in <c>$join</c> and
/// <c>$leave</c> requests), so they never depend on the application's serializer options and work under Native AOT.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RoomRequest))]
[JsonSerializable(typeof(RoomReply))]
internal sealed partial class SocketJsonContext : JsonSerializerContext;

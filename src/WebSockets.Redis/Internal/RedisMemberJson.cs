using System.Text.Json;
using System.Text.Json.Serialization;

namespace WebSockets.Redis.Internal;

/// <summary>A <see cref="SocketMember"/> as stored in Redis: JSON with camelCase names.</summary>
internal static class RedisMemberJson
{
    public static byte[] Serialize(SocketMember member) => JsonSerializer.SerializeToUtf8Bytes(member, RedisJsonContext.Default.SocketMember);

    /// <summary>Reads a member; <see langword="null"/> for one that can't be read (written by an incompatible version).</summary>
    public static SocketMember? Deserialize(byte[] json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, RedisJsonContext.Default.SocketMember);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SocketMember))]
internal sealed partial class RedisJsonContext : JsonSerializerContext;

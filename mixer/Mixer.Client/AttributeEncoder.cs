using Istio.Mixer.V1;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Client;

/// <summary>Puts one typed attribute into the map of <see cref="CompressedAttributes"/> for its type.</summary>
internal static class AttributeEncoder
{
    /// <summary>Throws when a value of <paramref name="attributes"/> holds nothing (the wire has no slot for it).</summary>
    public static void Validate(Attributes attributes)
    {
        foreach (var (name, value) in attributes.Attributes_)
        {
            if (value is null || value.ValueCase == AttributeValue.ValueOneofCase.None)
            {
                throw new ArgumentException($"attribute '{name}' has no value: set one of its typed fields", nameof(attributes));
            }
        }
    }

    public static void Put(CompressedAttributes target, WordTable words, string name, AttributeValue value)
    {
        var index = words.Index(name);
        switch (value.ValueCase)
        {
            case AttributeValue.ValueOneofCase.StringValue:
                target.Strings[index] = words.Index(value.StringValue);
                break;
            case AttributeValue.ValueOneofCase.Int64Value:
                target.Int64S[index] = value.Int64Value;
                break;
            case AttributeValue.ValueOneofCase.DoubleValue:
                target.Doubles[index] = value.DoubleValue;
                break;
            case AttributeValue.ValueOneofCase.BoolValue:
                target.Bools[index] = value.BoolValue;
                break;
            case AttributeValue.ValueOneofCase.BytesValue:
                target.Bytes[index] = value.BytesValue;
                break;
            case AttributeValue.ValueOneofCase.TimestampValue:
                target.Timestamps[index] = value.TimestampValue.Clone();
                break;
            case AttributeValue.ValueOneofCase.DurationValue:
                target.Durations[index] = value.DurationValue.Clone();
                break;
            case AttributeValue.ValueOneofCase.StringMapValue:
                var map = new StringMap();
                foreach (var (k, v) in value.StringMapValue.Entries)
                {
                    map.Entries[words.Index(k)] = words.Index(v);
                }

                target.StringMaps[index] = map;
                break;
            default:
                throw new ArgumentException($"attribute '{name}' has no value: set one of its typed fields", nameof(value));
        }
    }
}

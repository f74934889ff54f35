/// Aligned columns for a terminal: padding is computed on the plain text, color added after,
/// so escape sequences never shift a column.
struct Table {
    struct Cell {
        var text: String
        var tone: Style.Tone?
        init(_ text: String, _ tone: Style.Tone? = nil) {
            self.text = text
            self.tone = tone
        }
    }

    var headers: [String]
    var rows: [[Cell]] = []

    func render(_ style: Style) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.text.count)
            }
        }
        func line(_ cells: [Cell]) -> String {
            var parts: [String] = []
            for (column, cell) in cells.enumerated() {
                // The last column is not padded: no trailing blanks.
                let padding = column == cells.count - 1 ? 0 : widths[column] - cell.text.count
                parts.append(style.paint(cell.text, cell.tone) + String(repeating: " ", count: padding))
            }
            return parts.joined(separator: "  ")
        }
        var lines = [line(headers.map { Cell($0, .bold) })]
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }
}

package demo

import (
	"strings"
	"unicode"
)

// A name is written "Display" when its email form follows by folding
// accents (José → jose), or "Display:ascii" when it does not (田中:tanaka).
type name struct{ display, ascii string }

// culture is a group of first and last names that go together.
type culture struct {
	weight int
	first  []name
	last   []name
	// familyFirst writes the family name first (田中 陽翔); joined drops
	// the space as well (王伟).
	familyFirst, joined bool
	// romanised is the share of people who write their name in Latin
	// letters (Haruto Tanaka) rather than in their own script.
	romanised float64
}

func names(list string) []name {
	fields := strings.Fields(list)
	out := make([]name, 0, len(fields))
	for _, f := range fields {
		display, ascii, ok := strings.Cut(f, ":")
		if !ok {
			ascii = fold(display)
		}
		// Multi-word names (De Luca) are written with _ in the lists.
		out = append(out, name{display: strings.ReplaceAll(display, "_", " "), ascii: ascii})
	}
	return out
}

// folding maps the accented letters of our name lists to ASCII.
var folding = func() map[rune]string {
	m := map[rune]string{}
	for to, from := range map[string]string{
		"a":  "àáâãäåāąăạảấầẩẫậắằẳẵặ",
		"ae": "æ",
		"c":  "çćč",
		"d":  "ďđ",
		"e":  "èéêëēęěẹẻẽếềểễệ",
		"g":  "ğ",
		"i":  "ìíîïīıịỉĩ",
		"l":  "ł",
		"n":  "ñńň",
		"o":  "òóôõöøōőọỏốồổỗộơớờởỡợ",
		"oe": "œ",
		"r":  "ř",
		"s":  "śšş",
		"ss": "ß",
		"t":  "ťţ",
		"u":  "ùúûüūůűụủưứừửữựũ",
		"y":  "ýÿỳỵỷỹ",
		"z":  "źżž",
	} {
		for _, r := range from {
			m[r] = to
		}
	}
	return m
}()

// fold turns a name into the letters of an email address: lower case, no
// accents, no spaces, apostrophes or hyphens.
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case folding[r] != "":
			b.WriteString(folding[r])
		case unicode.IsLetter(r):
			// A script we have no folding for: the list must spell the
			// name out (Display:ascii); see TestNamesFold.
		}
	}
	return b.String()
}

// capitalise writes an ASCII name as a name: haruto → Haruto.
func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var cultures = []culture{
	{weight: 30,
		first: names(`James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara
			Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Emily Matthew Olivia Anthony Emma
			Mark Ava Andrew Sophia Joshua Chloe Ryan Grace Oliver Amelia Jack Isla Harry Zoë Noah Charlotte
			Liam Mia Ethan Harper Lucas Evelyn Mason Abigail Logan Ella Aiden Lily Owen Hannah Connor Megan
			Seán Siobhán Aoife Niamh Rhys Cerys Dylan Bethan Tyler Madison`),
		last: names(`Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore
			Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott
			Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards
			Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward
			Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders Myers Long Ross Foster O'Brien
			O'Connor MacDonald Fitzgerald Nguyen Okafor Adeyemi Mensah`)},
	{weight: 12,
		first: names(`José María Juan Carmen Luis Ana Carlos Lucía Javier Sofía Miguel Valentina Alejandro
			Camila Diego Isabel Andrés Martina Pablo Paula Jorge Elena Raúl Inés Sergio Marta Álvaro Nerea
			Iñaki Begoña Mateo Ximena Santiago Renata Emilio Guadalupe`),
		last: names(`García Rodríguez Martínez López Hernández González Pérez Sánchez Ramírez Torres Flores
			Rivera Gómez Díaz Morales Ortiz Gutiérrez Chávez Ramos Ruiz Álvarez Jiménez Moreno Muñoz Romero
			Navarro Castillo Vargas Peña Ibáñez Castro Mendoza Herrera Aguilar Vázquez`)},
	{weight: 8,
		first: names(`Jürgen:juergen Lukas Anna Leon Lena Maximilian Sophie Felix Marie Paul Hannah Jonas
			Lea Tobias Katharina Sebastian Julia Florian Laura Matthias Sabine Stefan Ute Dieter Björn:bjoern
			Jörg:joerg Günther:guenther Anja Kai Svenja Uwe Heike Ralf Birgit`),
		last: names(`Müller:mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann
			Schäfer:schaefer Koch Bauer Richter Klein Wolf Schröder:schroeder Neumann Schwarz Zimmermann Braun
			Krüger:krueger Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann Köhler:koehler Groß:gross
			Vogel Jäger:jaeger`)},
	{weight: 7,
		first: names(`Léa Chloé Manon Camille Inès Jade Louise Zoé Hugo Louis Gabriel Arthur Raphaël Théo
			Jules Maël Noé Étienne Anaïs Hélène François Amélie Cécile Benoît Jérôme Mathilde Margaux Océane`),
		last: names(`Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent
			Lefèvre Michel Garnier Faure Rousseau Blanc Guérin Henry Roussel Nicolas Perrin Morin Mathieu
			Clément Gauthier Dumont Fontaine Chevalier`)},
	{weight: 5,
		first: names(`Łukasz Jakub Kacper Mateusz Piotr Krzysztof Tomasz Paweł Michał Wojciech Agnieszka
			Katarzyna Małgorzata Anna Zofia Magdalena Joanna Aleksandra Natalia Ewa Weronika Grzegorz
			Bartłomiej Żaneta`),
		last: names(`Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański
			Woźniak Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Pawłowski
			Michalski Król Wieczorek Jabłoński Nowakowski`)},
	{weight: 5,
		first: names(`Giulia Francesco Alessandro Sofia Aurora Lorenzo Mattia Ginevra Leonardo Beatrice
			Andrea Chiara Riccardo Martina Tommaso Niccolò Federica Gianluca Elisa Matteo`),
		last: names(`Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo
			Conti De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani
			Rinaldi Caruso Ferrara Galli Martini Leone`)},
	{weight: 4,
		first: names(`Åsa Björn Sven Ingrid Lars Astrid Erik Sigrid Nils Freja Magnus Maja Søren Signe Ole
			Linnea Mikael Elsa Kristian Saga Jukka Aino Eero Päivi`),
		last: names(`Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsen Hansen Jensen Nielsen
			Pedersen Berg Lindqvist Lindberg Dahl Strøm Østergaard Virtanen Korhonen Mäkinen Nieminen
			Hämäläinen Håkansson Sjöberg Ekström`)},
	{weight: 5,
		first: names(`João Maria Ana Gabriel Pedro Beatriz Lucas Mariana Rafael Larissa Thiago Fernanda
			Gonçalo Leonor Inês Tomás Vitória Júlia André Letícia`),
		last: names(`Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa Ribeiro
			Martins Carvalho Almeida Lopes Sousa Fernandes Vieira Barbosa Araújo Conceição Gonçalves`)},
	{weight: 4, familyFirst: true, romanised: 0.3,
		first: names(`陽翔:haruto 蓮:ren 湊:minato 大翔:hiroto 悠真:yuma 結菜:yuna 陽葵:himari 凛:rin 葵:aoi
			芽依:mei 翔太:shota 健太:kenta 美咲:misaki 由美:yumi 拓海:takumi さくら:sakura 花子:hanako 太郎:taro`),
		last: names(`田中:tanaka 佐藤:sato 鈴木:suzuki 高橋:takahashi 伊藤:ito 渡辺:watanabe 山本:yamamoto
			中村:nakamura 小林:kobayashi 加藤:kato 吉田:yoshida 山田:yamada 佐々木:sasaki 松本:matsumoto
			井上:inoue 木村:kimura`)},
	{weight: 4, familyFirst: true, joined: true, romanised: 0.4,
		first: names(`伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun 洋:yang 勇:yong 艳:yan
			杰:jie 娟:juan 涛:tao 明:ming 超:chao 秀英:xiuying 华:hua 子涵:zihan 浩宇:haoyu 欣怡:xinyi 梓萱:zixuan`),
		last: names(`王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou 徐:xu 孙:sun
			马:ma 朱:zhu 胡:hu 郭:guo`)},
	{weight: 6,
		first: names(`Aarav Vivaan Aditya Arjun Sai Reyansh Ishaan Krishna Ananya Diya Aadhya Saanvi Priya
			Pooja Neha Rahul Rohit Vikram Amit Sneha Kavya Meera Lakshmi Deepak Sanjay`),
		last: names(`Sharma Verma Gupta Singh Kumar Patel Shah Mehta Iyer Reddy Nair Rao Joshi Chopra
			Malhotra Bhat Desai Kapoor Agarwal Banerjee Chatterjee Mukherjee Pillai Menon`)},
	{weight: 2,
		first: names(`Mehmet Ayşe Mustafa Fatma Emre Zeynep Elif Burak Çağla Gökhan Şule İbrahim:ibrahim`),
		last:  names(`Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan`)},
	{weight: 2, familyFirst: true,
		first: names(`Anh Minh Huy Linh Trang Phương Thảo Đức Quang Hà`),
		last:  names(`Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng`)},
}

// Email domains, by weight. Only reserved names (RFC 2606, RFC 6761):
// demo data must never mail a real person.
var domains = weighted([]string{
	"example.com", "example.org", "example.net", "mail.example", "inbox.example", "post.example",
	"acme.example", "globex.example", "initech.example", "umbrella.example", "hooli.example",
	"university.example", "fastmail.test", "proton.test",
}, []int{25, 10, 10, 12, 8, 6, 5, 4, 4, 3, 3, 3, 4, 3})

// staffDomain is where the seeded support and manager staff have their
// addresses, so that "corp.example" finds them in the panel's search.
const staffDomain = "corp.example"

var banReasons = []string{
	"Spam: posted links to a phishing site",
	"Chargeback fraud",
	"Abusive messages to other users",
	"Multiple accounts to evade an earlier ban",
	"Automated sign-ups (bot)",
	"Harassment reported by three users",
	"Payment fraud flagged by the processor",
	"Terms of service: reselling accounts",
	"Impersonating staff",
	"Credential stuffing from this account's sessions",
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"ExampleApp/4.2.1 (iOS 18.1; iPhone15,2)",
	"ExampleApp/4.2.0 (Android 14; SM-S918B)",
}

var providers = weighted([]string{"google", "github", "microsoft", "apple"}, []int{55, 25, 12, 8})

// weighted repeats each item weight times, so that a uniform pick from the
// result is a weighted pick.
func weighted[T any](items []T, weights []int) []T {
	var out []T
	for i, it := range items {
		for range weights[i] {
			out = append(out, it)
		}
	}
	return out
}

// Domains are every domain demo users have addresses at, so that seed can
// tell its own users from anyone else's.
func Domains() []string {
	seen := map[string]bool{staffDomain: true}
	out := []string{staffDomain}
	for _, d := range domains {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
